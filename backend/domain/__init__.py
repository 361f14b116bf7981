"""The domain: the scenario contract, the risk levels and the LLM's answer shape.

Pure data and rules with no I/O. Layers import downwards only: ``backend.api`` -> ``backend.services`` ->
``backend.domain``; nothing here imports services, api, config or evaluation (a test checks it).
"""
