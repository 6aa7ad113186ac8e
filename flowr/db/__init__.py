"""The database seam: per-vendor SQL that receives model metadata and imports no flowr model."""
