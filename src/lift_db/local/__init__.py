"""The Docker-free local stack: the embedded server and the parts that run beside it."""
