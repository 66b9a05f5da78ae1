"""ENM: the planner (a ChangeSet into ordered, minimal steps with locks and a rollback), the
dialects ENM takes (cmedit scripts, dynamic and 3GPP import files, moshell), an offline
simulator, and a journaled executor speaking ENM's scripting protocol."""
