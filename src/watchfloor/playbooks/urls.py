from django.urls import path

from . import views

urlpatterns = [
    path("escalations/<int:escalation_id>/playbooks/start", views.run_start, name="playbook-start"),
    path(
        "escalations/<int:escalation_id>/playbooks/<int:run_id>/cancel",
        views.run_cancel,
        name="playbook-cancel",
    ),
    path(
        "escalations/<int:escalation_id>/playbooks/<int:run_id>/roles",
        views.run_role,
        name="playbook-role",
    ),
    path(
        "escalations/<int:escalation_id>/playbook-steps/<int:step_id>/state",
        views.step_state,
        name="playbook-step-state",
    ),
    path(
        "escalations/<int:escalation_id>/playbook-steps/<int:step_id>/checklist",
        views.step_checklist,
        name="playbook-step-checklist",
    ),
    path(
        "escalations/<int:escalation_id>/playbook-steps/<int:step_id>/approve",
        views.step_approve,
        name="playbook-step-approve",
    ),
    path(
        "escalations/<int:escalation_id>/communications/<slug:template_code>",
        views.template_preview,
        name="communication-preview",
    ),
    path(
        "escalations/<int:escalation_id>/playbook-steps/<int:step_id>/communications/"
        "<slug:template_code>",
        views.template_preview,
        name="step-communication-preview",
    ),
]
