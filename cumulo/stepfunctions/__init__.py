"""Step Functions: the state machine service and its engine, over the pure ASL core in ``cumulo.stepfunctions.asl``."""
