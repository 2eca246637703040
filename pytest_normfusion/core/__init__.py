"""The suite's machinery without pytest: cases, inputs, calls, judges, outcomes, the fusion-pass checks."""
