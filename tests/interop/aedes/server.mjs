// The aedes broker of `make interop`: plain MQTT on 127.0.0.1 only, aedes' defaults
// otherwise (in-memory persistence, as most users run it).
//   node server.mjs PORT   (0: any free port; prints "aedes listening on 127.0.0.1:PORT")
// With MQE_BROKER_USER set, a CONNECT must carry that user name and MQE_BROKER_PASS.
import { createServer } from 'node:net'
import { Aedes } from 'aedes'

const port = Number(process.argv[2] ?? '0')
const user = process.env.MQE_BROKER_USER
const pass = process.env.MQE_BROKER_PASS ?? ''

const broker = await Aedes.createBroker()
if (user !== undefined) {
  broker.authenticate = (client, username, password, done) => {
    done(null, username === user && (password ?? Buffer.alloc(0)).toString() === pass)
  }
}
const server = createServer(broker.handle)
server.listen({ port, host: '127.0.0.1' }, () => {
  console.log(`aedes listening on 127.0.0.1:${server.address().port}`)
})
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close()
    broker.close(() => process.exit(0))
    setTimeout(() => process.exit(0), 1000).unref()
  })
}
