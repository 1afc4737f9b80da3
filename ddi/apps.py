from django.apps import AppConfig


class DdiConfig(AppConfig):
    name = "ddi"
    verbose_name = "Device integration (DDI)"
