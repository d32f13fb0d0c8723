# An S3-compatible store: a secret_key with no AWS access key id near it.
resource "minio_s3_bucket" "b" {
  secret_key = "q7Rk2LmZ9xTw4Nv8Pb3Hc6Jd1Fs5Gy0Ua7We2QnB"
}
