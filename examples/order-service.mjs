// order-service: joins through the user-service seed. ES module.
//   PORT=3001 PEERS=http://127.0.0.1:3000 node examples/order-service.mjs
import express from 'express';
import expressMicro from 'express-micro';

const app = express();
const host = process.env.HOST ?? '127.0.0.1';
const micro = expressMicro(app, {
  serviceName: 'order-service',
  host,
  peers: (process.env.PEERS ?? 'http://127.0.0.1:3000').split(','),
  pingInterval: Number(process.env.PING_INTERVAL ?? 5000),
  onServiceUp: (instance) => console.log(`UP   ${instance.service} ${instance.url}`),
  onServiceDown: (instance) => console.log(`DOWN ${instance.service} ${instance.url}`),
});
const { services } = micro;

app.use(express.json());

const orders = [
  { id: 'o-1', userId: '7', item: 'compiler manual' },
  { id: 'o-2', userId: '7', item: 'nanosecond wire' },
];

app.get('/orders/:userId', (req, res) => {
  res.json(orders.filter((order) => order.userId === req.params.userId));
});

app.post('/orders', (req, res) => {
  const order = { id: `o-${orders.length + 1}`, userId: String(req.body.userId), item: req.body.item };
  orders.push(order);
  res.status(201).json(order);
});

// Calls user-service for the user, and itself for the orders.
app.get('/summary/:userId', async (req, res, next) => {
  try {
    const [user, userOrders] = await Promise.all([
      services.userService.getUser({ id: req.params.userId }),
      services.orderService.getOrders({ userId: req.params.userId }),
    ]);
    res.json({ user, orders: userOrders });
  } catch (error) {
    next(error);
  }
});

const server = app.listen(Number(process.env.PORT ?? 3001), host, () => {
  console.log(`order-service listening on http://${host}:${server.address().port}`);
});

export { micro, server };
