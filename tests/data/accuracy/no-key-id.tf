# An S3-compatible store: a secret_key with no access key id near it, and no word naming the cloud.
resource "minio_s3_bucket" "b" {
  secret_key = "q7Rk2LmZ9xTw4Nv8Pb3Hc6Jd1Fs5Gy0Ua7We2QnB"
}
