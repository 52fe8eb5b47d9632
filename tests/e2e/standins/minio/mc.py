#!/opt/moto/bin/python
"""Minimal `mc` (MinIO client) shim for the MinIO stand-in.

Supported:
  mc ready ALIAS                      exit 0 iff the S3 API answers (healthcheck)
  mc alias set ALIAS URL [KEY SECRET] / mc alias ls / mc alias rm ALIAS
  mc mb [-p|--ignore-existing] ALIAS/BUCKET
  mc ls ALIAS[/BUCKET[/PREFIX]]
  mc --version
The alias "local" points at this container's API (http://127.0.0.1:<api port>)
with MINIO_ROOT_USER / MINIO_ROOT_PASSWORD. Everything else exits 2.
"""

import json
import os
import sys
import urllib.error
import urllib.request

CONFIG = os.path.join(os.path.expanduser("~"), ".mc-standin", "aliases.json")


def api_port():
    try:
        with open("/tmp/.minio-standin-api-port") as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return int(os.environ.get("MOTO_PORT", "9000"))


def load_aliases():
    aliases = {
        "local": {
            "url": f"http://127.0.0.1:{api_port()}",
            "accessKey": os.environ.get("MINIO_ROOT_USER", "minioadmin"),
            "secretKey": os.environ.get("MINIO_ROOT_PASSWORD", "minioadmin"),
        }
    }
    try:
        with open(CONFIG) as fh:
            aliases.update(json.load(fh))
    except (OSError, ValueError):
        pass
    return aliases


def save_aliases(aliases):
    os.makedirs(os.path.dirname(CONFIG), exist_ok=True)
    with open(CONFIG, "w") as fh:
        json.dump(aliases, fh, indent=2)


def resolve(target):
    alias, _, rest = target.partition("/")
    aliases = load_aliases()
    if alias not in aliases:
        die(f"mc: <ERROR> alias '{alias}' not found", 1)
    bucket, _, prefix = rest.partition("/")
    return alias, aliases[alias], bucket, prefix


def die(msg, code=1):
    print(msg, file=sys.stderr)
    sys.exit(code)


def http_ok(url, timeout):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200, resp.read()
    except (urllib.error.URLError, OSError, ValueError):
        return False, b""


def cmd_ready(args):
    names = [a for a in args if not a.startswith("-")]
    if not names:
        die("mc: <ERROR> usage: mc ready ALIAS", 2)
    alias, cfg, _, _ = resolve(names[0])
    timeout = float(os.environ.get("MC_STANDIN_TIMEOUT", "3"))
    url = cfg["url"].rstrip("/")
    ok, _ = http_ok(url + "/minio/health/ready", timeout)
    if ok:  # and the S3 API itself (unsigned ListBuckets) answers
        ok, body = http_ok(url + "/", timeout)
        ok = ok and b"ListAllMyBucketsResult" in body
    if ok:
        print(f"The cluster '{alias}' is ready")
        return 0
    print(f"The cluster '{alias}' is not ready", file=sys.stderr)
    return 1


def s3_client(cfg):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=cfg["url"],
        aws_access_key_id=cfg.get("accessKey") or "minioadmin",
        aws_secret_access_key=cfg.get("secretKey") or "minioadmin",
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def cmd_alias(args):
    if not args:
        die("mc: <ERROR> usage: mc alias set|ls|rm ...", 2)
    sub, rest = args[0], [a for a in args[1:] if not a.startswith("--")]
    aliases = load_aliases()
    if sub in ("set", "s"):
        if len(rest) < 2:
            die("mc: <ERROR> usage: mc alias set ALIAS URL [ACCESSKEY SECRETKEY]", 2)
        cfg = {"url": rest[1]}
        if len(rest) >= 4:
            cfg.update(accessKey=rest[2], secretKey=rest[3])
        aliases[rest[0]] = cfg
        save_aliases({k: v for k, v in aliases.items() if k != "local" or k == rest[0]})
        print(f"Added `{rest[0]}` successfully.")
        return 0
    if sub in ("ls", "list"):
        for name, cfg in aliases.items():
            print(f"{name}\n  URL       : {cfg['url']}\n  AccessKey : {cfg.get('accessKey', '')}\n")
        return 0
    if sub in ("rm", "remove"):
        aliases.pop(rest[0] if rest else "", None)
        save_aliases(aliases)
        return 0
    die(f"mc: <ERROR> 'mc alias {sub}' is not supported by the stand-in", 2)


def cmd_mb(args):
    ignore = any(a in ("-p", "--ignore-existing") for a in args)
    targets = [a for a in args if not a.startswith("-")]
    if not targets:
        die("mc: <ERROR> usage: mc mb [-p] ALIAS/BUCKET", 2)
    from botocore.exceptions import ClientError

    rc = 0
    for target in targets:
        _, cfg, bucket, _ = resolve(target)
        s3 = s3_client(cfg)
        try:
            try:
                s3.head_bucket(Bucket=bucket)
                exists = True
            except ClientError:
                exists = False
            if exists:
                if ignore:
                    print(f"Bucket `{target}` already exists.")
                    continue
                print(f"mc: <ERROR> Unable to make bucket `{target}`. "
                      "Your previous request to create the named bucket succeeded and you already own it.",
                      file=sys.stderr)
                rc = 1
                continue
            s3.create_bucket(Bucket=bucket)
            print(f"Bucket created successfully `{target}`.")
        except ClientError as exc:
            print(f"mc: <ERROR> Unable to make bucket `{target}`. {exc}", file=sys.stderr)
            rc = 1
    return rc


def cmd_ls(args):
    targets = [a for a in args if not a.startswith("-")] or ["local"]
    for target in targets:
        _, cfg, bucket, prefix = resolve(target)
        s3 = s3_client(cfg)
        if not bucket:
            for b in s3.list_buckets().get("Buckets", []):
                print(f"[{b['CreationDate']:%Y-%m-%d %H:%M:%S %Z}]     0B {b['Name']}/")
            continue
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
        for page in pages:
            for p in page.get("CommonPrefixes", []):
                print(f"{'':>31}PRE {p['Prefix'][len(prefix):]}")
            for o in page.get("Contents", []):
                print(f"[{o['LastModified']:%Y-%m-%d %H:%M:%S %Z}] {o['Size']:>6}B {o['Key'][len(prefix):]}")
    return 0


def main(argv):
    args = [a for a in argv if a not in ("--quiet", "-q", "--json", "--no-color", "--insecure")]
    if not args or args[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    if args[0] in ("--version", "-v", "version"):
        print("mc version STANDIN (dataplatform-standin/minio shim)")
        return 0
    cmd, rest = args[0], args[1:]
    handlers = {"ready": cmd_ready, "alias": cmd_alias, "mb": cmd_mb, "ls": cmd_ls}
    if cmd not in handlers:
        die(f"mc: <ERROR> 'mc {cmd}' is not supported by the dataplatform minio stand-in shim", 2)
    return handlers[cmd](rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
