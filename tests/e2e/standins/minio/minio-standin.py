#!/opt/moto/bin/python
"""MinIO stand-in: moto's S3 server speaking on MinIO's ports.

Accepts the official image's command line, e.g.
    minio server /data --console-address :9001 [--address :9000] [--quiet]
(a leading "minio" is optional; other flags are accepted and ignored).

* S3 API (moto, path-style) on --address (default 0.0.0.0:9000). moto accepts
  any credentials, so clients configured with MINIO_ROOT_USER /
  MINIO_ROOT_PASSWORD work.
* GET/HEAD /minio/health/live|ready|cluster -> 200, like MinIO.
* A placeholder page on --console-address (default :9001).
* Persistence (moto itself keeps state only in memory): the S3 backend state is
  pickled to <data dir>/.minio-standin/s3-state.pickle on SIGTERM/SIGINT and,
  after writes, every MINIO_STANDIN_SNAPSHOT_INTERVAL seconds (default 2; 0 =
  only at shutdown); it is restored on start. MINIO_STANDIN_PERSIST=0 disables
  this. The snapshot format is tied to the moto version baked into the image.
"""

import contextlib
import http.server
import os
import pickle
import signal
import sys
import threading
import time

SNAPSHOT_FORMAT = 1


def log(msg):
    print(f"minio-standin: {msg}", file=sys.stderr, flush=True)


def parse_hostport(value, default_port):
    value = (value or "").strip()
    if not value:
        return "0.0.0.0", default_port
    host, _, port = value.rpartition(":")
    if not _:
        host, port = value, str(default_port)
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port or default_port)


def parse_args(argv):
    args = list(argv)
    if args and os.path.basename(args[0]) == "minio":
        args.pop(0)
    if not args:
        args = ["server", "/data"]
    if args[0] != "server":
        log(f"only 'server' is supported by the stand-in (got {args[0]!r}); running the server anyway")
    else:
        args.pop(0)
    opts = {"address": ":9000", "console-address": ":9001", "quiet": False}
    data_dirs, ignored = [], []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            name, eq, val = a[2:].partition("=")
            if name in ("address", "console-address"):
                if not eq:
                    i += 1
                    val = args[i] if i < len(args) else ""
                opts[name] = val
            elif name == "quiet":
                opts["quiet"] = True
            else:
                ignored.append(a)
                # flags that take a value in real MinIO
                if not eq and name in ("certs-dir", "S", "config-dir", "C", "ftp", "sftp",
                                       "interface", "dns-cache-ttl", "shutdown-timeout",
                                       "idle-timeout", "read-header-timeout", "conn-user-timeout"):
                    i += 1
        else:
            data_dirs.append(a)
        i += 1
    if ignored:
        log(f"ignoring unsupported flags: {' '.join(ignored)}")
    opts["data_dir"] = data_dirs[0] if data_dirs else "/data"
    return opts


class RWLock:
    """Many mutating S3 requests may run together; a snapshot runs alone."""

    def __init__(self):
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._exclusive_waiting = 0

    @contextlib.contextmanager
    def shared(self):
        with self._cond:
            while self._exclusive or self._exclusive_waiting:
                self._cond.wait()
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                if not self._shared:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self):
        with self._cond:
            self._exclusive_waiting += 1
            while self._exclusive or self._shared:
                self._cond.wait()
            self._exclusive_waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class Persistence:
    def __init__(self, data_dir, enabled):
        self.enabled = enabled
        self.dir = os.path.join(data_dir, ".minio-standin")
        self.path = os.path.join(self.dir, "s3-state.pickle")
        self.lock = RWLock()
        self.generation = 0  # bumped by every mutating request
        self.saved_generation = 0
        self._gen_lock = threading.Lock()
        if enabled:
            try:
                os.makedirs(self.dir, exist_ok=True)
            except OSError as exc:
                log(f"WARNING: cannot create {self.dir} ({exc}); persistence disabled")
                self.enabled = False

    def mark_dirty(self):
        with self._gen_lock:
            self.generation += 1

    def _collect(self):
        import moto
        from moto.s3.models import s3_backends

        for _ in range(5):
            try:
                accounts = {acct: dict(asb) for acct, asb in list(s3_backends.items())}
                return {
                    "format": SNAPSHOT_FORMAT,
                    "moto_version": moto.__version__,
                    "saved_at": time.time(),
                    "accounts": accounts,
                    "bucket_accounts": dict(s3_backends.bucket_accounts),
                }
            except RuntimeError:  # dict changed size during iteration
                time.sleep(0.01)
        raise RuntimeError("could not collect a consistent S3 state")

    def snapshot(self, reason):
        if not self.enabled:
            return
        with self._gen_lock:
            if self.generation == self.saved_generation:
                return
        tmp = f"{self.path}.tmp.{os.getpid()}"
        t0 = time.monotonic()
        try:
            with self.lock.exclusive():
                gen = self.generation
                with open(tmp, "wb") as fh:
                    pickle.dump(self._collect(), fh, protocol=pickle.HIGHEST_PROTOCOL)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            dfd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
            with self._gen_lock:
                self.saved_generation = max(self.saved_generation, gen)
            log(f"snapshot ({reason}) -> {self.path} "
                f"[{os.path.getsize(self.path)} bytes, {time.monotonic() - t0:.2f}s]")
        except Exception as exc:  # keep serving; report loudly
            log(f"ERROR: snapshot ({reason}) failed: {exc!r}")
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def restore(self):
        if not self.enabled or not os.path.exists(self.path):
            if self.enabled:
                log(f"no snapshot at {self.path}; starting with an empty S3 state")
            return
        import moto
        from moto.s3.models import s3_backends

        try:
            with open(self.path, "rb") as fh:
                state = pickle.load(fh)
            if state.get("format") != SNAPSHOT_FORMAT:
                raise ValueError(f"unknown snapshot format {state.get('format')!r}")
            if state.get("moto_version") != moto.__version__:
                log(f"WARNING: snapshot written by moto {state.get('moto_version')}, "
                    f"running moto {moto.__version__}; trying anyway")
            nbuckets = 0
            for acct, partitions in state["accounts"].items():
                asb = s3_backends[acct]
                for partition, backend in partitions.items():
                    dict.__setitem__(asb, partition, backend)
                    nbuckets += len(getattr(backend, "buckets", {}))
            s3_backends.bucket_accounts.update(state["bucket_accounts"])
            log(f"restored S3 state from {self.path} ({nbuckets} bucket(s))")
        except Exception as exc:
            bad = f"{self.path}.unreadable.{int(time.time())}"
            with contextlib.suppress(OSError):
                os.replace(self.path, bad)
            log(f"ERROR: could not restore {self.path} ({exc!r}); moved to {bad}; starting empty")


def make_app(moto_app, persistence):
    health_paths = ("/minio/health/live", "/minio/health/ready", "/minio/health/cluster",
                    "/minio/health/cluster/read")

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/minio/health/"):
            status = "200 OK" if path in health_paths and method in ("GET", "HEAD") else "404 Not Found"
            start_response(status, [("Content-Length", "0"), ("Server", "MinIO (moto stand-in)")])
            return [b""]
        if method in ("GET", "HEAD", "OPTIONS") or not persistence.enabled:
            return moto_app(environ, start_response)
        with persistence.lock.shared():
            try:
                return moto_app(environ, start_response)
            finally:
                persistence.mark_dirty()

    return app


CONSOLE_PAGE = b"""<!doctype html><html><head><title>MinIO Console (stand-in)</title></head>
<body><h1>MinIO console placeholder</h1>
<p>This is <code>dataplatform-standin/minio</code>: a moto S3 server standing in for
MinIO in CI. There is no console; the S3 API is on port 9000.</p></body></html>
"""


class ConsoleHandler(http.server.BaseHTTPRequestHandler):
    server_version = "MinIO-Console-Standin"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(CONSOLE_PAGE)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(CONSOLE_PAGE)

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


def main():
    opts = parse_args(sys.argv[1:])
    api_host, api_port = parse_hostport(opts["address"], 9000)
    con_host, con_port = parse_hostport(opts["console-address"], 9001)
    os.environ["MOTO_PORT"] = str(api_port)
    os.environ.setdefault("S3_IGNORE_SUBDOMAIN_BUCKETNAME", "true")

    from werkzeug.serving import make_server
    import moto
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    persist = os.environ.get("MINIO_STANDIN_PERSIST", "1").lower() not in ("0", "false", "no", "off")
    interval = float(os.environ.get("MINIO_STANDIN_SNAPSHOT_INTERVAL", "2"))
    data_dir = opts["data_dir"]
    if persist:
        os.makedirs(data_dir, exist_ok=True)
    persistence = Persistence(data_dir, persist)
    persistence.restore()

    moto_app = DomainDispatcherApplication(create_backend_app)
    app = make_app(moto_app, persistence)

    handler = MotoRequestHandler
    if opts["quiet"] or os.environ.get("MINIO_STANDIN_QUIET") == "1":
        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args, **kwargs):
                pass
        handler = QuietHandler

    api = make_server(api_host, api_port, app, threaded=True, request_handler=handler)
    threading.Thread(target=api.serve_forever, name="s3-api", daemon=True).start()
    with contextlib.suppress(OSError), open("/tmp/.minio-standin-api-port", "w") as fh:
        fh.write(str(api_port))

    console = None
    if os.environ.get("MINIO_STANDIN_CONSOLE", "1") != "0":
        try:
            console = http.server.ThreadingHTTPServer((con_host, con_port), ConsoleHandler)
            console.daemon_threads = True
            threading.Thread(target=console.serve_forever, name="console", daemon=True).start()
        except OSError as exc:
            log(f"WARNING: console placeholder not started on {con_host}:{con_port}: {exc}")
            console = None

    user = os.environ.get("MINIO_ROOT_USER", "minioadmin")
    log(f"moto {moto.__version__} S3 API: http://{api_host}:{api_port}  (path-style; any credentials accepted, "
        f"e.g. MINIO_ROOT_USER={user})")
    if console:
        log(f"console placeholder: http://{con_host}:{con_port}")
    log(f"data dir: {data_dir}  persistence: "
        + (f"snapshot every {interval:g}s after writes + on shutdown" if persistence.enabled else "OFF (in-memory only)"))

    stop = threading.Event()

    def on_signal(signum, _frame):
        log(f"received {signal.Signals(signum).name}, shutting down")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    while not stop.wait(interval if interval > 0 and persistence.enabled else 3600):
        persistence.snapshot("periodic")

    api.shutdown()
    if console:
        console.shutdown()
    persistence.snapshot("shutdown")
    log("bye")


if __name__ == "__main__":
    main()
