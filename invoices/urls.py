from django.urls import path

from invoices import attachment_views, document_views, upload_views, views

app_name = "invoices"
urlpatterns = [
    path("", views.documents, name="documents"),
    path("inbox/", views.inbox, name="inbox"),
    path("new/invoice/", views.new_invoice, name="new_invoice"),
    path("new/credit-note/", views.new_credit_note, name="new_credit_note"),
    path("new/totals/", views.totals, name="totals"),
    path("peppol-check/", views.peppol_check, name="peppol_check"),
    path("participants/", views.participants, name="participants"),
    path("upload/", upload_views.upload_file, name="upload"),
    path("upload/pdf/<str:task_id>/", upload_views.conversion, name="conversion"),
    path("upload/pdf/<str:task_id>/send/", upload_views.send_conversion, name="send_conversion"),
    path("archive/", document_views.archive_export, name="archive"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/state/", views.state, name="state"),
    path("<int:pk>/ubl/", views.ubl, name="ubl"),
    path("<int:pk>/document/", document_views.document, name="document"),
    path("<int:pk>/pdf/", document_views.document_pdf, name="pdf"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/send/", views.send, name="send"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/attachments/", attachment_views.add, name="add_attachment"),
    path(
        "<int:pk>/attachments/<int:attachment_pk>/",
        attachment_views.download,
        name="attachment",
    ),
    path(
        "<int:pk>/attachments/<int:attachment_pk>/remove/",
        attachment_views.remove,
        name="remove_attachment",
    ),
    # Reseller staff: read-only.
    path("tenant/<int:tenant_id>/", views.staff_documents, name="staff_documents"),
    path("tenant/<int:tenant_id>/<int:pk>/", views.staff_detail, name="staff_detail"),
    path(
        "tenant/<int:tenant_id>/<int:pk>/document/",
        document_views.staff_document,
        name="staff_document",
    ),
    path("tenant/<int:tenant_id>/<int:pk>/pdf/", document_views.staff_pdf, name="staff_pdf"),
    # Called by e-invoice.be: authenticated by its signature, not by a login.
    path("webhooks/<str:token>/", views.webhook, name="webhook"),
]
