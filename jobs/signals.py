"""What the runner tells the rest of the project: a job ended (succeeded or failed).

Sent once per ending, by the run that owned the job, after the row was written; receivers
(notifications) must not raise into the runner: it sends them robustly and logs.
"""

from django.dispatch import Signal

# sender: the job's model; job: the row (its state is the final one).
job_finished = Signal()
