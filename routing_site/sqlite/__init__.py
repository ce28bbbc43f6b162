"""SQLite registry backend that never creates the database file at run time (only ``migrate``)."""
