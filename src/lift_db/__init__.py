"""lift-sys datastore: migrations, a Docker-free Supabase-compatible stack and the session store."""

__version__ = "0.1.0"
