"""tree.mount with an explicit script_name, then engine.start and engine.block.

Not quickstart: the program mounts the app and drives the engine itself, as a
hand-written CherryPy main does. compat.py runs it on app.core and CherryPy;
tests/test_process.py runs it as a whole process on app.core, with
``cherrypy`` aliased to it and HOST overriding the 0.0.0.0 set here.
"""
import cherrypy


class HelloWorld:
    def index(self):
        return "HelloWorld"
    index.exposed = True

def main():
    cherrypy.config.update({
        'server.socket_host': '0.0.0.0'
        })

    app = HelloWorld()

    cherrypy.tree.mount(
        root=app, 
        script_name='/', 
        config=None
    )

    cherrypy.engine.start()
    cherrypy.engine.block()
    

if __name__ == "__main__":
    main()
