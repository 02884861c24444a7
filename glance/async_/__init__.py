"""Asynchronous work: image import flows on taskflow, their plugins and the
executor that runs them off the request thread."""
