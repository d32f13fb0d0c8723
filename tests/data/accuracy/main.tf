terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
}

provider "aws" {
  region     = "eu-west-1"
  access_key = "AKIAQ3EGT5NBWJ7LZ4XM"
  secret_key = "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"
}
