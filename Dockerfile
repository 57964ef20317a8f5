FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=portal.settings_production
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
COPY portal portal
COPY accounts accounts
COPY tenants tenants
COPY invoices invoices
COPY sandbox sandbox
RUN pip install --no-cache-dir .
COPY . .
RUN ENV_FILE=/dev/null DEBUG=false SECRET_KEY=build-only-$(python -c "print('x'*60)") \
    FIELD_ENCRYPTION_KEYS=Y2hhbmdlLW1lLWNoYW5nZS1tZS1jaGFuZ2UtbWUtMTI= \
    EINVOICE_ORG_API_KEY=build-only python manage.py collectstatic --no-input -v0 \
 && python manage.py compilemessages -v0 || true
RUN useradd --create-home portal && mkdir -p /app/var && chown -R portal /app/var
USER portal
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
