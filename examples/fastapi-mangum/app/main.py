"""A FastAPI app served by Lambda through Mangum, unchanged from how it runs on AWS."""

from fastapi import Cookie, FastAPI, Response
from mangum import Mangum
from pydantic import BaseModel

app = FastAPI()
ITEMS: dict[int, dict] = {}


class Item(BaseModel):
    name: str
    price: float


@app.get("/hello")
def hello(name: str = "world") -> dict:
    return {"message": f"Hello, {name}!"}


@app.post("/items/{item_id}")
def put_item(item_id: int, item: Item, response: Response) -> dict:
    ITEMS[item_id] = item.model_dump()
    response.set_cookie("last_item", str(item_id))
    return {"id": item_id, **ITEMS[item_id]}


@app.get("/items/{item_id}")
def get_item(item_id: int, last_item: str | None = Cookie(default=None)) -> dict:
    return {"id": item_id, "item": ITEMS.get(item_id), "last_item_cookie": last_item}


@app.get("/pixel.png")
def pixel() -> Response:
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
    return Response(content=png, media_type="image/png")


handler = Mangum(app, lifespan="off")
