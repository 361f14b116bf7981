"""Risk-reasoning backend: camera detections in, risk-scored security events out."""
