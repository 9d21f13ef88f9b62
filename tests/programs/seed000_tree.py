import app.core as cherrypy

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
