# The lake's object store: the four buckets, the pipeline's user and a policy that confines it to them,
# and the bucket browser's read-only user.
# Same names and policy as the compose job docker/minio/init.sh and the embedded stack.

provider "minio" {
  minio_server   = var.minio_server
  minio_user     = var.minio_root_user
  minio_password = var.minio_root_password
  minio_region   = var.s3_region
  minio_ssl      = var.minio_ssl
}

resource "minio_s3_bucket" "lake" {
  for_each = var.buckets

  bucket = each.value
  acl    = "private"
}

resource "minio_iam_policy" "pipeline" {
  name = "radiolake-pipeline"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ListLakeBuckets"
        Effect   = "Allow"
        Action   = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
        Resource = local.bucket_resources
      },
      {
        Sid    = "ReadWriteLakeObjects"
        Effect = "Allow"
        Action = [
          "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
          "s3:ListMultipartUploadParts",
        ]
        Resource = local.bucket_resources
      },
    ]
  })
}

resource "minio_iam_user" "pipeline" {
  name   = var.pipeline_access_key
  secret = var.pipeline_secret_key
}

resource "minio_iam_user_policy_attachment" "pipeline" {
  user_name   = minio_iam_user.pipeline.id
  policy_name = minio_iam_policy.pipeline.id
}

# The bucket browser's user (RADIOLAKE_BROWSER_S3_ACCESS_KEY, the Airflow api-server only): list and read
# the lake's buckets, nothing else. Same policy as docker/minio/init.sh --print-browser-policy.
resource "minio_iam_policy" "browser" {
  name = "radiolake-browser-readonly"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ListLakeBuckets"
        Effect   = "Allow"
        Action   = ["s3:ListBucket", "s3:GetBucketLocation"]
        Resource = [for name in values(var.buckets) : "arn:aws:s3:::${name}"]
      },
      {
        Sid      = "ReadLakeObjects"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = [for name in values(var.buckets) : "arn:aws:s3:::${name}/*"]
      },
    ]
  })
}

resource "minio_iam_user" "browser" {
  name   = var.browser_access_key
  secret = var.browser_secret_key
}

resource "minio_iam_user_policy_attachment" "browser" {
  user_name   = minio_iam_user.browser.id
  policy_name = minio_iam_policy.browser.id
}

locals {
  bucket_resources = flatten([
    for name in values(var.buckets) : ["arn:aws:s3:::${name}", "arn:aws:s3:::${name}/*"]
  ])
}
