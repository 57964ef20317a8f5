FROM python:3.11-slim
# requirements/base.txt: the portal only. REQUIREMENTS=sandbox adds the e-invoice.be sandbox
# (FastAPI, uvicorn) for the docker-compose "demo" profile; production images never carry it.
ARG REQUIREMENTS=base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=portal.settings_production \
    PYTHONPATH=/app
WORKDIR /app
# Every package is checked against the lock's hashes. The project itself is not pip-installed:
# it runs from /app (PYTHONPATH), so no unlocked build backend is fetched either.
COPY requirements requirements
RUN pip install --no-cache-dir --require-hashes -r requirements/pip.txt \
 && pip install --no-cache-dir --require-hashes -r "requirements/${REQUIREMENTS}.txt"
COPY . .
# A failed collectstatic fails the build. No compilemessages: the compiled catalogues
# (locale/*/LC_MESSAGES/django.mo) are committed and bin/setup recompiles any that is older
# than its .po, so the image needs no gettext.
RUN ENV_FILE=/dev/null DEBUG=false SECRET_KEY=build-only-$(python -c "print('x'*60)") \
    FIELD_ENCRYPTION_KEYS=Y2hhbmdlLW1lLWNoYW5nZS1tZS1jaGFuZ2UtbWUtMTI= \
    EINVOICE_ORG_API_KEY=build-only python manage.py collectstatic --no-input -v0
RUN useradd --create-home portal && mkdir -p /app/var && chown -R portal /app/var
USER portal
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
