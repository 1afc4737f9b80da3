"""hawkBit DDI v1 routes under /<tenant>/controller/v1/<controllerId>."""

urlpatterns: list = []
