"""Training, evaluation, reports and ONNX export for the facial-emotion model."""
