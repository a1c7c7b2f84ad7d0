"""Who is calling: callers, key resolution, IAM models and service, STS, managed policies, authorization."""
