"""The radio network and the data connection: registration, operator, signal, PDP contexts."""
