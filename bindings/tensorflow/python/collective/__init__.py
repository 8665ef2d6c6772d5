"""libcollective's Python side: `collective.tensorflow` (the TensorFlow binding) and
`collective.run` (a launcher for local jobs)."""
