"""/rest/v1 routes of the software resources (included by mgmt.urls into the ``mgmt`` namespace).

Route names are used by mgmt.representations.software for hawkBit's ``_links``.
"""

from django.urls import URLPattern, path

from mgmt.views import distributionsets as sets
from mgmt.views import softwaremodules as modules
from mgmt.views import tags

urlpatterns: list[URLPattern] = [
    path("softwaremoduletypes", modules.ModuleTypesView.as_view(), name="softwaremoduletypes"),
    path("softwaremoduletypes/<int:pk>", modules.ModuleTypeView.as_view(), name="softwaremoduletype"),
    path("softwaremodules", modules.ModulesView.as_view(), name="softwaremodules"),
    path("softwaremodules/<int:pk>", modules.ModuleView.as_view(), name="softwaremodule"),
    path(
        "softwaremodules/<int:pk>/artifacts", modules.ArtifactsView.as_view(), name="softwaremodule-artifacts"
    ),
    path(
        "softwaremodules/<int:pk>/artifacts/<int:artifact_id>",
        modules.ArtifactView.as_view(),
        name="softwaremodule-artifact",
    ),
    path(
        "softwaremodules/<int:pk>/artifacts/<int:artifact_id>/download",
        modules.ArtifactDownloadView.as_view(),
        name="softwaremodule-artifact-download",
    ),
    path(
        "softwaremodules/<int:pk>/metadata",
        modules.ModuleMetadataListView.as_view(),
        name="softwaremodule-metadata-list",
    ),
    path(
        "softwaremodules/<int:pk>/metadata/<str:key>",
        modules.ModuleMetadataView.as_view(),
        name="softwaremodule-metadata",
    ),
    path("distributionsets", sets.SetsView.as_view(), name="distributionsets"),
    path("distributionsets/<int:pk>", sets.SetView.as_view(), name="distributionset"),
    path(
        "distributionsets/<int:pk>/assignedSM",
        sets.SetModulesView.as_view(),
        name="distributionset-assignedsm",
    ),
    path(
        "distributionsets/<int:pk>/assignedSM/<int:module_id>",
        sets.SetModuleView.as_view(),
        name="distributionset-assignedsm-one",
    ),
    path(
        "distributionsets/<int:pk>/metadata",
        sets.SetMetadataListView.as_view(),
        name="distributionset-metadata-list",
    ),
    path(
        "distributionsets/<int:pk>/metadata/<str:key>",
        sets.SetMetadataView.as_view(),
        name="distributionset-metadata",
    ),
    path("distributionsettags", tags.SetTagsView.as_view(), name="distributionsettags"),
    path("distributionsettags/<str:tag_id>", tags.SetTagView.as_view(), name="distributionsettag"),
    path(
        "distributionsettags/<str:tag_id>/assigned",
        tags.SetTagAssignedView.as_view(),
        name="distributionsettag-assigned",
    ),
    path(
        "distributionsettags/<str:tag_id>/assigned/<str:ds_id>",
        tags.SetTagAssignedOneView.as_view(),
        name="distributionsettag-assigned-one",
    ),
    path("distributionsettypes", sets.SetTypesView.as_view(), name="distributionsettypes"),
    path("distributionsettypes/<int:pk>", sets.SetTypeView.as_view(), name="distributionsettype"),
    path(
        "distributionsettypes/<int:pk>/mandatorymoduletypes",
        sets.SetTypeModuleTypesView.as_view(mandatory=True),
        name="distributionsettype-mandatory",
    ),
    path(
        "distributionsettypes/<int:pk>/mandatorymoduletypes/<int:type_id>",
        sets.SetTypeModuleTypeView.as_view(mandatory=True),
        name="distributionsettype-mandatory-one",
    ),
    path(
        "distributionsettypes/<int:pk>/optionalmoduletypes",
        sets.SetTypeModuleTypesView.as_view(mandatory=False),
        name="distributionsettype-optional",
    ),
    path(
        "distributionsettypes/<int:pk>/optionalmoduletypes/<int:type_id>",
        sets.SetTypeModuleTypeView.as_view(mandatory=False),
        name="distributionsettype-optional-one",
    ),
]
