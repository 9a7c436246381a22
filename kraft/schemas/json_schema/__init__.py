"""JSON Schema: loading, the model, compatibility (differences between two schemas),
and validating records."""
