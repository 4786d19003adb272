"""The top floor: the `simgate` console dispatcher and the demo, which compose the parts."""
