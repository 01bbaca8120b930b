"""Workarounds for moto 5.2.5 defects that would make the local stack disagree with AWS.

Each patch fixes one answer that AWS gives differently. None of them changes s3-dr itself:
`src/` talks to the local stack exactly as it talks to AWS. `tests/emulator_defects.rs`
starts moto *without* these patches and fails the day moto's own answer becomes right, so
the patch can be deleted.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_types import TYPE_RESPONSE
from moto.core.responses import ActionResult
from moto.s3.exceptions import MissingBucket, MissingInventoryConfig, ReplicationConfigurationNotFoundError
from moto.s3.models import S3Backend
from moto.s3.responses import S3Response
from werkzeug.datastructures import Headers

_S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _get_bucket_versioning(self: S3Response) -> TYPE_RESPONSE:
    """Defect 1: moto answers with root <GetBucketVersioningResponse>; AWS (and the Rust SDK's
    parser) use <VersioningConfiguration>. boto3 does not look at the root name."""
    status = self.backend.get_bucket_versioning(self.bucket_name)
    inner = f"<Status>{status}</Status>" if status else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<VersioningConfiguration xmlns="{_S3_NS}">{inner}</VersioningConfiguration>'
    )
    return 200, {"Content-Type": "application/xml"}, body


_original_head_bucket = S3Response.head_bucket


def _head_bucket(self: S3Response) -> TYPE_RESPONSE:
    """Defect 2: moto answers 200 to HeadBucket on a bucket of another account and ignores
    x-amz-expected-bucket-owner. AWS answers 403 to both, which is how s3-dr learns that a
    destination name is taken before it changes anything."""
    try:
        bucket = self.backend.head_bucket(self.bucket_name)
    except MissingBucket:
        return 404, {}, ""
    expected_owner = self.headers.get("x-amz-expected-bucket-owner")
    if bucket.account_id != self.current_account or (
        expected_owner and expected_owner != bucket.account_id
    ):
        return 403, {"x-amz-bucket-region": bucket.region_name}, ""
    return _original_head_bucket(self)


def _get_bucket_replication(self: S3Response) -> TYPE_RESPONSE:
    """Defect 3: moto stores the whole replication configuration but answers with a lossy
    template (Filter always {"Prefix": ""}, DeleteMarkerReplication always Disabled,
    SourceSelectionCriteria dropped). AWS returns what was put."""
    self.data["Action"] = "GetBucketReplication"
    replication = self.backend.get_bucket_replication(self.bucket_name)
    if not replication:
        raise ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)
    rules: list[dict[str, Any]] = []
    for stored in replication["Rule"]:
        rule = {key: value for key, value in stored.items() if value is not None}
        if "Filter" in stored and stored["Filter"] is None:
            rule["Filter"] = {}  # <Filter/> (the whole bucket) parses to None
        rules.append(rule)
    return self.serialized(
        ActionResult(
            {"ReplicationConfiguration": {"Role": replication["Role"], "Rules": rules}}
        )
    )


def _all_buckets(self: S3Response) -> TYPE_RESPONSE:
    """Defect 4: moto's ListBuckets ignores pagination (max-buckets cuts the list and gives no
    ContinuationToken, so a paginating client stops early) and never returns BucketRegion. AWS
    pages by name and adds BucketRegion when the request has any parameter."""
    self.data["Action"] = "ListAllMyBuckets"
    self._authenticate_and_authorize_s3_action()
    prefix = self._get_param("prefix")
    region = self._get_param("bucket-region")
    max_buckets = self._get_param("max-buckets")
    token = self._get_param("continuation-token")
    buckets = sorted(
        self.backend.list_buckets(prefix=prefix, bucket_region=region, max_buckets=None),
        key=lambda bucket: bucket.name,
    )
    if token:
        buckets = [bucket for bucket in buckets if bucket.name > token]
    page = buckets[: int(max_buckets)] if max_buckets else buckets
    with_region = any(p is not None for p in (prefix, region, max_buckets, token))
    result: dict[str, Any] = {
        "Owner": {"ID": "bcaf1ffd86f41161ca5fb16fd081034f", "DisplayName": "webfile"},
        "Buckets": [
            {"Name": bucket.name, "CreationDate": bucket.creation_date_ISO8601,
             **({"BucketRegion": bucket.region_name} if with_region else {})}
            for bucket in page
        ],
    }
    if len(page) < len(buckets):
        result["ContinuationToken"] = page[-1].name
    if prefix:
        result["Prefix"] = prefix
    self.data["Action"] = "ListBuckets"
    return self.serialized(ActionResult(result))


_original_key_response_put = S3Response._key_response_put


def _key_response_put(self: S3Response, query: dict[str, Any], key_name: str) -> TYPE_RESPONSE:
    """Defect 5: moto asks a CopyObject that sets Object Lock retention or a legal hold (or that
    copies into a bucket with default retention) for Content-MD5 or x-amz-sdk-checksum-algorithm,
    and refuses it with MissingUploadObjectWithObjectLockHeaders. AWS requires that of requests
    that upload a body (PutObject: "The Content-MD5 or x-amz-sdk-checksum-algorithm header is
    required for any request to upload an object with a retention period configured using
    Amazon S3 Object Lock"); CopyObject has no body, and its API reference names no such
    requirement. The copy is let through as if it carried the MD5 of its empty body."""
    if (
        "x-amz-copy-source" in self.headers
        and not self.headers.get("Content-Md5")
        and not self.headers.get("x-amz-sdk-checksum-algorithm")
    ):
        original = self.headers
        headers = Headers(original)
        headers["Content-Md5"] = "1B2M2Y8AsgTpgAmY7PHvCQ=="  # MD5 of an empty body
        self.headers = headers
        try:
            return _original_key_response_put(self, query, key_name)
        finally:
            self.headers = original
    return _original_key_response_put(self, query, key_name)


_original_put_inventory = S3Backend.put_bucket_inventory_configuration


def _put_bucket_inventory_configuration(self: S3Backend, bucket_name: str, inventory_configuration: dict[str, Any]) -> None:
    """Defect 6, part 1: moto does not keep IncludedObjectVersions. Kept here for the answer."""
    _original_put_inventory(self, bucket_name, inventory_configuration)
    stored = self.get_bucket(bucket_name).inventory_configs[inventory_configuration["Id"]]
    stored.included_object_versions = inventory_configuration.get("IncludedObjectVersions")


def _get_bucket_inventory_configuration(self: S3Response) -> TYPE_RESPONSE:
    """Defect 6: moto answers GetBucketInventoryConfiguration with IncludedObjectVersions
    always "All", and an absent configuration with NoSuchInventoryConfig. AWS returns what was
    put, and NoSuchConfiguration (404) for an absent one
    (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html)."""
    config_id = self.querystring["id"][0]
    stored = self.backend.get_bucket(self.bucket_name).inventory_configs.get(config_id)
    if stored is None:
        # moto serializes only exceptions of its own modules: its class, AWS's code.
        absent = MissingInventoryConfig()
        absent.code = "NoSuchConfiguration"
        raise absent
    config: dict[str, Any] = {
        "Destination": stored.destination,
        "IsEnabled": str(stored.is_enabled).lower() == "true",
        "Id": stored.id,
        "IncludedObjectVersions": getattr(stored, "included_object_versions", None) or "All",
        "Schedule": stored.schedule,
    }
    if stored.filters:
        config["Filter"] = stored.filters
    if stored.optional_fields:
        fields = stored.optional_fields.get("Field", []) if isinstance(stored.optional_fields, dict) else stored.optional_fields
        config["OptionalFields"] = fields if isinstance(fields, list) else [fields]
    self.data["Action"] = "GetBucketInventoryConfiguration"
    return self.serialized(ActionResult({"InventoryConfiguration": config}))


PATCHES = {
    "all_buckets": _all_buckets,
    "get_bucket_versioning": _get_bucket_versioning,
    "head_bucket": _head_bucket,
    "get_bucket_replication": _get_bucket_replication,
    "_key_response_put": _key_response_put,
    "get_bucket_inventory_configuration": _get_bucket_inventory_configuration,
}

BACKEND_PATCHES = {
    "put_bucket_inventory_configuration": _put_bucket_inventory_configuration,
}


def apply() -> list[str]:
    for name, replacement in PATCHES.items():
        setattr(S3Response, name, replacement)
    for name, replacement in BACKEND_PATCHES.items():
        setattr(S3Backend, name, replacement)
    return sorted([*PATCHES, *BACKEND_PATCHES])
