// user-service: the seed. CommonJS, anonymous arrow handlers.
//   PORT=3000 node examples/user-service.cjs
const express = require('express');
const expressMicro = require('express-micro');

const app = express();
const { services } = expressMicro(app, {
  serviceName: 'user-service',
  host: process.env.HOST ?? '127.0.0.1',
  pingInterval: Number(process.env.PING_INTERVAL ?? 5000),
});

app.use(express.json());

const users = new Map([
  ['1', { id: '1', name: 'Ada Lovelace' }],
  ['7', { id: '7', name: 'Grace Hopper' }],
]);

app.get('/users/:id', (req, res) => {
  const user = users.get(req.params.id);
  if (!user) return res.status(404).json({ error: `no user ${req.params.id}` });
  res.json(user);
});

app.post('/api/users', (req, res) => {
  const user = { id: String(users.size + 1), name: req.body.name };
  users.set(user.id, user);
  res.status(201).json(user);
});

// A service can call itself, and other services, by name.
app.get('/users/:id/orders', async (req, res, next) => {
  try {
    res.json(await services.orderService.getOrders({ userId: req.params.id }));
  } catch (error) {
    next(error);
  }
});

const server = app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  console.log(`user-service listening on http://${process.env.HOST ?? '127.0.0.1'}:${server.address().port}`);
});
