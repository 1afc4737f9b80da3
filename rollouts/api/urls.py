from rest_framework.routers import SimpleRouter

from rollouts.api.views import ActionViewSet, RolloutViewSet

router = SimpleRouter()
router.register("rollouts", RolloutViewSet, basename="rollout")
router.register("actions", ActionViewSet, basename="action")

urlpatterns = router.urls
