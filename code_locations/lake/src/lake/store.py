"""The object store every location reads and writes: S3, MinIO, or any S3-compatible server."""

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import dagster as dg
import s3fs
from aiobotocore.session import AioSession
from pydantic import Field

log = logging.getLogger(__name__)

# A storage outage of a few minutes must not fail runs, sensors or checks. Transient errors
# (refused or reset connections, timeouts, HTTP 5xx, throttling) are retried by botocore's standard
# mode: exponential backoff with full jitter, at most 20 s a wait. 40 attempts hold a request for
# about 6 minutes on average, and for less than 3 minutes with odds below one in a million. 4xx
# answers (a missing key, access denied) are never retried, nor is anything our code raises.
STORAGE_ATTEMPTS = 40
STORAGE_CLIENT_CONFIG = {
    "retries": {"mode": "standard", "total_max_attempts": STORAGE_ATTEMPTS},
    "connect_timeout": 5,
    "read_timeout": 60,
}


_CLIENTS: dict[tuple, s3fs.S3FileSystem] = {}
_CLIENTS_LOCK = threading.Lock()


@dataclass(frozen=True)
class StoredObject:
    key: str  # relative to the bucket
    etag: str
    size: int
    last_modified: datetime


class ObjectStore(dg.ConfigurableResource):
    """One bucket on an S3-compatible endpoint, addressed path-style so MinIO works."""

    endpoint_url: str = Field(description="S3 API endpoint, e.g. http://minio:9000")
    bucket: str = Field(description="Bucket that holds landing files, the lake and reports")
    access_key_id: str = Field(description="Access key id")
    secret_access_key: str = Field(description="Secret access key")
    region: str = Field(default="us-east-1", description="Region name sent with requests")

    @classmethod
    def for_command_line(cls, bucket: str) -> "ObjectStore":
        """For command-line tools outside Dagster (demo seeding, bucket bootstrap): the variables
        of lake.env.LAKE_ENV, read now."""
        return cls(
            endpoint_url=os.environ["LAKE_S3_ENDPOINT_URL"],
            bucket=bucket,
            access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", ""),
            secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            region=os.environ.get("AWS_REGION", "us-east-1"),
        )

    def storage_options(self) -> dict:
        """fsspec/s3fs options; the same dict configures UPath, s3fs and the IO manager."""
        return {
            "key": self.access_key_id,
            "secret": self.secret_access_key,
            "endpoint_url": self.endpoint_url,
            "client_kwargs": {"region_name": self.region},
            "config_kwargs": {"s3": {"addressing_style": "path"}, **STORAGE_CLIENT_CONFIG},
            "session": self._session(),
            # Clients are cached by filesystem() (fsspec's cache would key on the session object).
            "skip_instance_cache": True,
            # Other processes write the bucket: a listing must always be fresh.
            "use_listings_cache": False,
        }

    def _session(self) -> AioSession:
        """A botocore session whose clients log each failed attempt, naming the endpoint and the
        cause, while they back off (botocore itself retries silently)."""
        session = AioSession()
        session.register("needs-retry.s3", self._warn_on_failed_attempt)
        return session

    def _warn_on_failed_attempt(self, attempts: int, caught_exception=None, response=None, **_) -> None:
        status = response[0].status_code if response else None
        if caught_exception is None and (status is None or status < 500):
            return None  # a success, or an answer no retry can change
        cause = caught_exception or f"HTTP {status}"
        log.warning(
            "object store %s unavailable (attempt %d of %d, backing off): %s",
            self.endpoint_url, attempts, STORAGE_ATTEMPTS, cause,
        )
        return None  # botocore's own handler decides whether and when to retry

    def filesystem(self) -> s3fs.S3FileSystem:
        """The process's one s3fs client for this endpoint and these credentials, built on first
        use. A client's first request costs about 0.2 s (botocore's endpoint rules, the TLS
        context, a connection), and Dagster initializes its own copy of a resource for every
        resource that depends on it: the IO manager's object_store is not the run's."""
        key = (os.getpid(), self.endpoint_url, self.access_key_id, self.secret_access_key, self.region)
        with _CLIENTS_LOCK:
            if key not in _CLIENTS:
                _CLIENTS[key] = s3fs.S3FileSystem(**self.storage_options())
            return _CLIENTS[key]

    def uri(self, *parts: str) -> str:
        return "s3://" + "/".join([self.bucket, *(p.strip("/") for p in parts)])

    def path(self, *parts: str) -> str:
        """Bucket-qualified path as s3fs expects it."""
        return "/".join([self.bucket, *(p.strip("/") for p in parts)])

    def list(self, prefix: str) -> Iterator[StoredObject]:
        """Every object under prefix (recursively), with its etag, in key order."""
        fs = self.filesystem()
        root = self.path(prefix)
        if not fs.exists(root):
            return
        for path, info in sorted(fs.find(root, detail=True).items()):
            if info.get("type") != "file":
                continue
            yield StoredObject(
                key=path.removeprefix(self.bucket + "/"),
                etag=str(info.get("ETag", "")).strip('"'),
                size=int(info.get("size", 0)),
                last_modified=info["LastModified"],
            )

    def list_pages(
        self, prefix: str, start_after: str = "", page_size: int = 1000
    ) -> Iterator[tuple[StoredObject, ...]]:
        """The objects under prefix/ whose keys sort after ``start_after``, in key order, one
        page (at most ``page_size``; S3 caps it at 1,000) per request: a caller may stop between
        requests."""
        request = {"Bucket": self.bucket, "Prefix": prefix.rstrip("/") + "/", "MaxKeys": page_size}
        if start_after:
            request["StartAfter"] = start_after
        while True:
            page = self.filesystem().call_s3("list_objects_v2", **request)
            yield tuple(
                StoredObject(
                    key=o["Key"], etag=o["ETag"].strip('"'), size=o["Size"], last_modified=o["LastModified"]
                )
                for o in page.get("Contents", [])
            )
            if not page.get("IsTruncated"):
                return
            request["ContinuationToken"] = page["NextContinuationToken"]

    def read_bytes(self, key: str) -> bytes:
        return self.filesystem().cat_file(self.path(key))

    def read_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Several objects by key, fetched together: s3fs sends their requests concurrently (a
        size, then the object, as read_bytes). A missing key raises FileNotFoundError."""
        if not keys:
            return {}
        fetched = self.filesystem().cat([self.path(key) for key in keys])
        return {key: fetched[self.path(key)] for key in keys}

    def write_bytes(self, key: str, data: bytes) -> None:
        """One PUT: readers see the old object or the whole new one, never a part."""
        self.filesystem().pipe_file(self.path(key), data)

    def copy(self, src_key: str, dst_key: str) -> None:
        self.filesystem().copy(self.path(src_key), self.path(dst_key))

    def delete(self, key: str) -> None:
        self.filesystem().rm_file(self.path(key))

    def move(self, src_key: str, dst_key: str) -> None:
        """Copy, then delete the source: the bytes exist at one key or both, never at none."""
        self.copy(src_key, dst_key)
        self.delete(src_key)

    def exists(self, key: str) -> bool:
        return self.filesystem().exists(self.path(key))

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (s3fs would send us-east-1 as a location
        constraint, which S3 and MinIO reject, so this goes through boto3)."""
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            config=Config(**STORAGE_CLIENT_CONFIG),
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
        )
        if self.bucket in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            return
        extra = {} if self.region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": self.region}
        }
        client.create_bucket(Bucket=self.bucket, **extra)
