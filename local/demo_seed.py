"""make demo, step 1: a source bucket in us-west-2 with a few objects and the dr=true tag."""

import sys

import boto3

bucket = sys.argv[1]
s3 = boto3.client("s3", region_name="us-west-2")
s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
for key, body in [("photos/2026/cat.jpg", b"\xff\xd8 not really a cat"), ("photos/2026/dog.jpg", b"\xff\xd8 woof"),
                  ("index.html", b"<h1>family photos</h1>")]:
    s3.put_object(Bucket=bucket, Key=key, Body=body)
s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "family"},
                                                         {"Key": "dr", "Value": "true"}]})
print(f"created s3://{bucket} in us-west-2 with 3 objects, tagged team=family, dr=true")
