from django.apps import AppConfig


class MgmtConfig(AppConfig):
    name = "mgmt"
    verbose_name = "hawkBit Management API (/rest/v1)"
