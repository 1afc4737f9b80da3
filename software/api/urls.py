from rest_framework.routers import SimpleRouter

from software.api.tags import ReleaseTagViewSet
from software.api.views import SoftwareViewSet

router = SimpleRouter()
router.register("software", SoftwareViewSet, basename="software")
router.register("release-tags", ReleaseTagViewSet, basename="release-tag")

urlpatterns = router.urls
