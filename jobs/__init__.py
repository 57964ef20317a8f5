"""Generic worker machinery: leased job rows (models), claiming and running them once (runner),
feeding them at the quota's pace (dispatcher) and the filesystem broker transport (broker)."""
