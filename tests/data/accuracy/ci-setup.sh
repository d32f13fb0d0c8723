#!/bin/sh
set -eu
aws configure set aws_access_key_id AKIAZ6YRM3KTP4WQ2NBD
aws configure set aws_secret_access_key "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"
aws configure set region us-east-1
