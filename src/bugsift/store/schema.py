"""Every table bugsift's ORM knows: the store's own plus those of the web app and the jobs.

Importing this module registers them all on `Base.metadata`, for the Alembic environment and for the
test that compares the models with the migrations.
"""

import bugsift.jobs.models
import bugsift.web.models
from bugsift.store.models import Base

metadata = Base.metadata

__all__ = ["bugsift", "metadata"]
