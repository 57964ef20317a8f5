"""A worker keeps its database connection from task to task, as a web process does from
request to request: a new PostgreSQL connection per job step cost the pipeline a server
process and cold caches each time."""

import time

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from portal.celery import app, reuse_database_connections

pytestmark = pytest.mark.django_db(transaction=True)


def _open_connection():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.connection


def _around_a_task(fixup: DjangoWorkerFixup) -> None:
    # What a pool process runs before and after each task: Celery's fixup, then ours.
    for _ in range(2):
        fixup.close_database()
        reuse_database_connections()


def test_it_keeps_the_connection_from_one_task_to_the_next():
    fixup = DjangoWorkerFixup(app)
    opened = _open_connection()
    for _ in range(50):
        _around_a_task(fixup)
        assert _open_connection() is opened


def test_it_opens_a_new_connection_once_the_old_one_is_past_its_age():
    opened = _open_connection()
    connection.close_at = time.monotonic() - 1  # CONN_MAX_AGE has passed
    reuse_database_connections()
    assert connection.connection is None
    assert _open_connection() is not opened


def test_it_opens_a_new_connection_after_a_task_left_a_transaction_open():
    opened = _open_connection()
    connection.set_autocommit(False)  # a task that died inside atomic()
    reuse_database_connections()
    assert connection.connection is None
    assert _open_connection() is not opened
