"""A call simulator that plays Twilio's side of calls against the server."""
