def register(app, access):
    pass
