"""Password hashing parameters for a server that also takes HTTP Basic auth on its API."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class GoosebitArgon2PasswordHasher(Argon2PasswordHasher):
    """argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).

    Django's default costs 100 MiB per verification; integrations authenticating every API call
    with Basic auth multiplied that per concurrent request. Hashes keep the algorithm name
    "argon2" and carry their own parameters, so existing hashes still verify (and are upgraded
    on the next login).
    """

    time_cost = 2
    memory_cost = 19456
    parallelism = 1
