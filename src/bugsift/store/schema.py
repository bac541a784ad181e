"""Every table bugsift's ORM knows, all owned by the store: reports and labels, models, the bot's
actions, the web app's users and sessions, and the jobs.

Importing this module registers them all on `Base.metadata`, for the Alembic environment and for the
test that compares the models with the migrations.
"""

import bugsift.store.job_tables
import bugsift.store.web_tables
from bugsift.store.models import Base

metadata = Base.metadata

__all__ = ["bugsift", "metadata"]
