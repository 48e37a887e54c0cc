"""Planning a job: cutting the inputs into map tasks, sampling them, tuning
the figures a request leaves open, the cost model and ``logmr plan``'s view."""
