from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import customer_required


@customer_required
def documents(request: HttpRequest) -> HttpResponse:
    return render(request, "invoices/documents.html", {"tenant": request.user.tenant})
