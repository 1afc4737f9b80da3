from rest_framework.routers import SimpleRouter

from software.api.views import SoftwareViewSet

router = SimpleRouter()
router.register("software", SoftwareViewSet, basename="software")

urlpatterns = router.urls
