#!/bin/sh
# One-shot MinIO setup for the compose stack: the lake's buckets, the pipeline's user and a policy that
# limits that user to those buckets, and the bucket browser's user with a read-only policy (list and get
# in those buckets, nothing else). Safe to rerun: every step converges to the same state.
# Runs in the minimal mc image (sh and coreutils only: no sed, no grep).
#   init.sh                 configure the MinIO at http://minio:9000
#   init.sh --print-policy  print the pipeline policy JSON and exit (used by tests/static)
#   init.sh --print-browser-policy  print the bucket browser's read-only policy JSON and exit
set -eu

BUCKETS="${RADIOLAKE_BUCKET_RAW:-raw} ${RADIOLAKE_BUCKET_CATALOGS:-catalogs} ${RADIOLAKE_BUCKET_XMATCH:-xmatch} ${RADIOLAKE_BUCKET_REPORTS:-reports}"
POLICY=radiolake-pipeline
BROWSER_POLICY=radiolake-browser-readonly

# The pipeline may list, read, write and delete inside the lake's buckets, and nothing else.
render_policy() {
  resources=""
  for bucket in $BUCKETS; do
    resources="$resources\"arn:aws:s3:::$bucket\", \"arn:aws:s3:::$bucket/*\", "
  done
  resources=${resources%, }
  printf '{\n  "Version": "2012-10-17",\n  "Statement": [\n'
  printf '    {"Sid": "ListLakeBuckets", "Effect": "Allow",\n'
  printf '     "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],\n'
  printf '     "Resource": [%s]},\n' "$resources"
  printf '    {"Sid": "ReadWriteLakeObjects", "Effect": "Allow",\n'
  printf '     "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",\n'
  printf '                "s3:ListMultipartUploadParts"],\n'
  printf '     "Resource": [%s]}\n  ]\n}\n' "$resources"
}

# The bucket browser may list and read inside the lake's buckets: no put, no delete, no multipart.
render_browser_policy() {
  resources=""
  objects=""
  for bucket in $BUCKETS; do
    resources="$resources\"arn:aws:s3:::$bucket\", "
    objects="$objects\"arn:aws:s3:::$bucket/*\", "
  done
  resources=${resources%, }
  objects=${objects%, }
  printf '{\n  "Version": "2012-10-17",\n  "Statement": [\n'
  printf '    {"Sid": "ListLakeBuckets", "Effect": "Allow",\n'
  printf '     "Action": ["s3:ListBucket", "s3:GetBucketLocation"],\n'
  printf '     "Resource": [%s]},\n' "$resources"
  printf '    {"Sid": "ReadLakeObjects", "Effect": "Allow",\n'
  printf '     "Action": ["s3:GetObject"],\n'
  printf '     "Resource": [%s]}\n  ]\n}\n' "$objects"
}

# Create (or reset) a user with its secret from stdin, attach a policy, and check the end state.
ensure_user() {
  user=$1
  secret=$2
  policy=$3
  printf '%s\n' "$secret" | mc admin user add radiolake "$user"
  # Attaching an already attached policy is an error on a rerun: attach, then verify the end state instead.
  mc admin policy attach radiolake "$policy" --user "$user" \
    || echo "minio-init: attach refused (already attached?); verifying"
  info=$(mc admin user info radiolake "$user")
  case "$info" in
    *"$policy"*) ;;
    *) echo "minio-init: ERROR user $user lacks policy $policy" >&2; exit 1 ;;
  esac
}

if [ "${1:-}" = "--print-browser-policy" ]; then
  render_browser_policy
  exit 0
fi

if [ "${1:-}" = "--print-policy" ]; then
  render_policy
  exit 0
fi

: "${MINIO_ROOT_USER:?set MINIO_ROOT_USER in .env}"
: "${MINIO_ROOT_PASSWORD:?set MINIO_ROOT_PASSWORD in .env}"
: "${RADIOLAKE_S3_ACCESS_KEY:?set RADIOLAKE_S3_ACCESS_KEY in .env}"
: "${RADIOLAKE_S3_SECRET_KEY:?set RADIOLAKE_S3_SECRET_KEY in .env}"
: "${RADIOLAKE_BROWSER_S3_ACCESS_KEY:?set RADIOLAKE_BROWSER_S3_ACCESS_KEY in .env}"
: "${RADIOLAKE_BROWSER_S3_SECRET_KEY:?set RADIOLAKE_BROWSER_S3_SECRET_KEY in .env}"

# Secrets never go on mc's command line (visible to anyone on the host in `ps`): the root credentials
# reach mc through its MC_HOST_<alias> variable, the pipeline user's secret through stdin.
# (.env.example asks for letters and digits only, so the URL needs no escaping.)
MC_HOST_radiolake="http://$MINIO_ROOT_USER:$MINIO_ROOT_PASSWORD@minio:9000"
export MC_HOST_radiolake
mc ready radiolake

for bucket in $BUCKETS; do
  mc mb --ignore-existing "radiolake/$bucket"
done

policy_file=$(mktemp)
render_policy > "$policy_file"
# `policy create` replaces a policy of that name; `user add` resets the user's secret to .env's value.
mc admin policy create radiolake "$POLICY" "$policy_file"
render_browser_policy > "$policy_file"
mc admin policy create radiolake "$BROWSER_POLICY" "$policy_file"
rm -f "$policy_file"
if [ "$RADIOLAKE_BROWSER_S3_ACCESS_KEY" = "$RADIOLAKE_S3_ACCESS_KEY" ]; then
  echo "minio-init: ERROR the bucket browser needs its own key, not the pipeline's" >&2
  exit 1
fi
# With the secret key left off, `mc admin user add` reads it from stdin.
ensure_user "$RADIOLAKE_S3_ACCESS_KEY" "$RADIOLAKE_S3_SECRET_KEY" "$POLICY"
ensure_user "$RADIOLAKE_BROWSER_S3_ACCESS_KEY" "$RADIOLAKE_BROWSER_S3_SECRET_KEY" "$BROWSER_POLICY"
echo "minio-init: buckets [$BUCKETS], user $RADIOLAKE_S3_ACCESS_KEY (policy $POLICY) and read-only user" \
  "$RADIOLAKE_BROWSER_S3_ACCESS_KEY (policy $BROWSER_POLICY) ready"
