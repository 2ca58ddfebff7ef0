"""The run artifact: its resolved config, its store (files, writer, reader), the model it describes."""
